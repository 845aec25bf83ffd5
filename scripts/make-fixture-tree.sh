#!/usr/bin/env bash
# Build a source tree that holds every case the clone engine must copy exactly:
# every entry kind, sparse and large files, hard links across directories, numeric owners
# (also above 2097151), setuid/setgid/sticky, times to the microsecond, xattrs,
# security.capability, ACLs, awkward names (non-UTF-8, newline, control chars, leading dash,
# 255 bytes) and a path near PATH_MAX, plus the default-excluded roots with contents.
#   scripts/make-fixture-tree.sh DIR      (DIR must not exist; run as root)
set -euo pipefail
dir=${1:?usage: make-fixture-tree.sh DIR}
[ ! -e "$dir" ] || { echo "make-fixture-tree: $dir exists" >&2; exit 2; }
mkdir -p "$dir"
cd "$dir"

# regular files of several sizes (small path, copy_file_range path), empty, sparse
: > empty
printf 'hello\n' > small
head -c 300000 /dev/urandom > medium
head -c 5000000 /dev/urandom > large
truncate -s 1G sparse
printf 'data in the middle' | dd of=sparse bs=1 seek=500000000 conv=notrunc status=none
truncate -s 64M all-hole

# directories: read-only with contents, setgid, sticky, mode 0000
mkdir -p ro/inner setgid sticky zero
echo locked > ro/inner/file
chmod 0555 ro/inner; chmod 0500 ro
chmod 2775 setgid; chmod 1777 sticky
echo z > zero/f; chmod 0000 zero

# symlinks: relative, absolute, dangling, to a directory, with non-UTF-8 target bytes
ln -s small rel-link
ln -s /etc/passwd abs-link
ln -s /nonexistent/target dangling
ln -s ro dir-link
ln -s "$(printf 'target-\377\376')" odd-target-link
chown -h 1234:5678 rel-link

# hard links: in one directory, across directories, and one whose twin lies in an excluded root
mkdir -p links/a links/b
echo shared > links/a/one
ln links/a/one links/a/two
ln links/a/one links/b/three
echo twin > links/b/lonely
mkdir -p tmp var/lib
ln links/b/lonely var/lib/excluded-twin

# device nodes, fifo, socket
mkdir devs
mknod devs/null c 1 3
mknod devs/loop200 b 7 200
mknod devs/big c 240 1048575
mkfifo devs/fifo
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' devs/socket
ln devs/null devs/null-link

# owners and modes
echo o > owned; chown 1234:5678 owned
echo b > bigid; chown 4000000:3000000 bigid
echo s > suid; chown 0:0 suid; chmod 4755 suid
echo g > sgid; chmod 2755 sgid
echo n > nomode; chmod 0000 nomode
echo x > exec; chmod 0750 exec

# xattrs, file capabilities, ACLs
echo a > xattr; setfattr -n user.color -v blue xattr; setfattr -n trusted.secret -v 0x00ff00 xattr
printf '\000binary\377' > bin-xattr-src; setfattr -n user.bin -v 0x00ff7f80 bin-xattr-src
cp /bin/true capable
setcap cap_net_raw+ep capable
echo acl > acl; setfacl -m u:1234:rwx,g:5678:r acl
mkdir acldir; setfacl -d -m u:1234:rx acldir; setfacl -m u:4321:rwx acldir
echo inherited > acldir/child

# awkward names
mkdir names
echo 1 > "names/$(printf 'bad-\377-utf8')"
echo 2 > "names/$(printf 'new\nline')"
echo 3 > "names/$(printf 'ctl\001\033char')"
echo 4 > names/-dash-first
echo 5 > "names/sp ace and 'quote'"
echo 6 > "names/$(printf 'n%.0s' $(seq 255))"
echo 7 > 'names/back\slash'
echo 8 > "names/ünïcödé"
# a path close to PATH_MAX (4096) from the tree's root
p=deep
while [ ${#p} -lt 3800 ]; do p="$p/$(printf 'd%.0s' $(seq 200))"; done
mkdir -p "$p"
echo deep > "$p/leaf"

# the default-excluded roots, with contents that must not be copied
mkdir -p home/user mnt/disk proc/1 sys/kernel
chmod 1777 tmp
echo junk > tmp/junk
echo state > var/lib/state
echo secret > home/user/secret
chmod 0555 proc; chmod 0555 sys; chown 0:0 proc sys

# times: microseconds, nanoseconds, whole seconds, old and pre-2000; directories last
find . -depth ! -type d -exec touch -h -d '@1650000000.25' {} +
touch -h -d '@1700000000.123456' small medium large sparse
touch -h -d '@1600000000.987654321' owned xattr acl
touch -h -d '@315532800' empty bigid
touch -h -d '@1234567890.5' abs-link rel-link dangling odd-target-link
touch -h -d '@1000000000.000001' suid
find . -depth -type d -exec touch -d '@1690000000.111111' {} +
