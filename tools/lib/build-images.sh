#!/usr/bin/env bash
# Build the root filesystem tarballs the functional tests boot, once per
# host, cached outside the repo in ${NOVA_LXD_CACHE:-/var/cache/nova-lxd}/images/:
#   busybox-rootfs.tar.gz          busybox-static + links, busybox init (~1 MB)
#   debian-bookworm-rootfs.tar.gz  debootstrap minbase + systemd + cloud-init
# Both are "split image" root tarballs: the filesystem at the top of the
# archive (./bin/...), numeric owners, no metadata.yaml.  Each is built in a
# temporary directory and renamed into place, so a present file is complete.
# Executed: prints the two paths at the end.  Sourced: exports
# NOVA_LXD_TEST_BUSYBOX_IMAGE and NOVA_LXD_TEST_DEBIAN_IMAGE instead.
# Environment: NOVA_LXD_CACHE, NOVA_LXD_DEBIAN_MIRROR (default: the bookworm
# mirror of this host's apt sources).

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
    # Sourced: build in a child bash (no options or traps leak), then export.
    bash "${BASH_SOURCE[0]}" --no-paths || return
    export NOVA_LXD_TEST_BUSYBOX_IMAGE=${NOVA_LXD_CACHE:-/var/cache/nova-lxd}/images/busybox-rootfs.tar.gz
    export NOVA_LXD_TEST_DEBIAN_IMAGE=${NOVA_LXD_CACHE:-/var/cache/nova-lxd}/images/debian-bookworm-rootfs.tar.gz
    return 0
fi

set -eEuo pipefail
PATH=$PATH:/usr/sbin:/sbin # debootstrap, chroot
trap 'echo "build-images: ERROR: unexpected failure (line $LINENO)" >&2' ERR
images=${NOVA_LXD_CACHE:-/var/cache/nova-lxd}/images
logdir=/var/log/nova-lxd
busybox_image=$images/busybox-rootfs.tar.gz
debian_image=$images/debian-bookworm-rootfs.tar.gz
work=

say() { echo "build-images: $*"; }
die() {
    echo "build-images: ERROR: $*" >&2
    exit 1
}

# Remove a build directory safely: debootstrap mounts proc and sys inside
# the target and leaves them mounted if it is interrupted.
cleanup() {
    [[ -n $work && -d $work ]] || return 0
    awk -v p="$work/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts |
        sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# pack DIR OUT: the filesystem at the top of the archive, owned by root.
pack() {
    tar --numeric-owner --one-file-system -C "$1" -czf "$2" .
}

build_busybox() {
    local root=$work/rootfs bb=/bin/busybox a
    # A dynamic busybox would need the host's libc inside the image.
    if ldd "$bb" >/dev/null 2>&1; then
        die "$bb is not static: install busybox-static"
    fi
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,etc,root,run,var/log}
    ln -s ../run "$root/var/run"
    install -m 0755 "$bb" "$root/bin/busybox"
    for a in $("$bb" --list-full); do
        [[ $a == bin/busybox ]] || ln -s /bin/busybox "$root/$a"
    done
    [[ -L $root/sbin/init ]] || die "this busybox has no init applet"
    chmod 1777 "$root/tmp"
    chmod 0700 "$root/root"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
        >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    echo busybox >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$root/etc/hosts"
    # LXD mounts /proc, /sys and /dev and configures the nics it adds but
    # leaves lo down: that is all init has to set up.  Without an inittab
    # busybox init would respawn shells on /dev/console and on tty2..4,
    # which do not exist in a container.  No ::respawn: entry is needed:
    # init stays up on its own.  It halts on SIGPWR (what LXD sends for a
    # stop without force; measured ~2.6 s, busybox sleeps 1 s after SIGTERM
    # and 1 s before halting), SIGUSR1 and SIGUSR2, and reboots on SIGTERM.
    # The echoes mark boot and shutdown in the LXD console log.
    cat >"$root/etc/inittab" <<'EOF'
# busybox init(8) table of the nova-lxd busybox test image
::sysinit:/sbin/ip link set lo up
::sysinit:/bin/echo "nova-lxd busybox image: init started"
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/echo "nova-lxd busybox image: shutting down"
EOF
    pack "$root" "$work/out.tar.gz"
}

# The bookworm mirror of this host's apt sources (deb822 or one-line).
debian_mirror() {
    local f line key val uris='' suites='' enabled=yes
    if [[ -n ${NOVA_LXD_DEBIAN_MIRROR:-} ]]; then
        echo "$NOVA_LXD_DEBIAN_MIRROR"
        return
    fi
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        # One stanza per paragraph; an empty line (or EOF) closes it.
        while IFS= read -r line; do
            if [[ -z ${line// /} ]]; then
                if [[ $enabled == yes && " $suites " == *" bookworm "* && -n $uris ]]; then
                    echo "${uris%% *}"
                    return
                fi
                uris='' suites='' enabled=yes
                continue
            fi
            [[ $line == [A-Za-z]*:* ]] || continue
            key=${line%%:*} val=${line#*:}
            val=${val//$'\t'/ }
            read -r val <<<"$val" # trim
            case ${key,,} in
                uris) uris=$val ;;
                suites) suites=$val ;;
                enabled) enabled=${val,,} ;;
            esac
        done < <(cat "$f"; echo)
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        # deb [options] URI bookworm components...
        val=$(sed -nE 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+bookworm[[:space:]].*/\2/p' "$f" | head -n1)
        [[ -z $val ]] || { echo "$val"; return; }
    done
    echo http://deb.debian.org/debian
}

build_debian() {
    local root=$work/rootfs mirror log=$logdir/debootstrap.log t0=$SECONDS rc
    mirror=$(debian_mirror)
    say "debian: debootstrap bookworm from $mirror (1-2 min, log $log)"
    # debootstrap's output goes to the log; its main phases, once each, here.
    set +e
    debootstrap --variant=minbase \
        --include=systemd-sysv,cloud-init,python3-cffi-backend,iproute2,ifupdown,netbase,procps,locales,iputils-ping \
        bookworm "$root" "$mirror" </dev/null 2>&1 | tee "$log" |
        awk '/^I: (Retrieving|Extracting|Unpacking|Configuring)/ && !seen[$2]++ {
                 print "build-images: debian:   " tolower($2) " ..."; fflush() }'
    rc=${PIPESTATUS[0]}
    set -e
    if ((rc)); then
        tail -n 20 "$log" | sed 's/^/  | /' >&2
        die "debootstrap failed (exit $rc), see $log"
    fi
    say "debian: debootstrap done ($((SECONDS - t0))s), configuring"
    # cloud-init's locale module fails without a generated locale.
    sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$root/etc/locale.gen"
    chroot "$root" locale-gen >>"$log" 2>&1 || die "locale-gen failed, see $log"
    echo LANG=en_US.UTF-8 >"$root/etc/default/locale"
    # Per-instance identity: systemd makes a machine-id at first boot; the
    # hostname comes from LXD (kernel hostname) or cloud-init.  debootstrap
    # copied the build host's hostname and resolv.conf.
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id" "$root/etc/hostname"
    : >"$root/etc/resolv.conf"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
    # binfmt_misc cannot be mounted in an unprivileged container: the unit
    # would fail and leave the system "degraded" instead of "running".
    ln -sf /dev/null "$root/etc/systemd/system/systemd-binfmt.service"
    # Nova gives the instance a config drive directory at /config-drive.
    cat >"$root/etc/cloud/cloud.cfg.d/90-nova-lxd.cfg" <<'EOF'
# nova-lxd test image: metadata comes from Nova's config drive
datasource_list: [ ConfigDrive, NoCloud, None ]
EOF
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
        "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/debconf/*-old
    find "$root/var/log" -type f -delete
    say "debian: packing"
    pack "$root" "$work/out.tar.gz"
}

mkdir -p "$images" "$logdir"
# One builder at a time per cache (CI and a developer may overlap).
exec 9>"$images/.lock"
flock -w 1800 9 || die "timed out waiting for $images/.lock"
for name in busybox debian; do
    out=${name}_image
    out=${!out}
    if [[ -s $out ]]; then
        say "$name image ok"
        continue
    fi
    t0=$SECONDS
    work=$(mktemp -d "$images/.build-$name.XXXXXX")
    [[ $name == debian ]] || say "building $name image"
    "build_$name"
    mv -f "$work/out.tar.gz" "$out"
    cleanup
    work=
    say "$name image built ($((SECONDS - t0))s, $(du -h "$out" | cut -f1))"
done
if [[ ${1:-} != --no-paths ]]; then
    echo "$busybox_image"
    echo "$debian_image"
fi
