"""nova-lxd: an OpenStack Nova compute driver running instances as LXD containers."""
