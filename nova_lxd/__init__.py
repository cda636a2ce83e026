"""nova-lxd: an OpenStack Nova compute driver for LXD system containers."""
