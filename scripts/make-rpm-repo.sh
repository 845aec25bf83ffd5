#!/usr/bin/env bash
# Build a small, real RPM repository for the install tests: a release package that drops a .repo
# file pointing at the repository (file://), a "dnf" placeholder, payload packages, and a comps
# group "Base" listing them, indexed with createrepo_c.
#
#   scripts/make-rpm-repo.sh OUTDIR [BASEURL]
#
# OUTDIR/repo is the repository (BASEURL defaults to file://OUTDIR/repo) and OUTDIR/forge-release.rpm
# the release package. Needs rpmbuild (Debian package rpm) and createrepo_c (createrepo-c).
set -euo pipefail
out=$(realpath -m "${1:?usage: make-rpm-repo.sh OUTDIR [BASEURL]}")
baseurl=${2:-file://$out/repo}
mkdir -p "$out/repo" "$out/build/SPECS"
top=$out/build

spec() { # name version summary requires files-script
  local name=$1 version=$2 summary=$3 requires=$4 body=$5 files=$6 provides=${7:-}
  cat >"$top/SPECS/$name.spec" <<EOF
Name: $name
Version: $version
Release: 1
Summary: $summary
License: MIT
BuildArch: noarch
AutoReqProv: no
${requires:+Requires: $requires}
${provides}
%description
$summary (domu-forge test repository).
%prep
%build
%install
$body
%files
$files
EOF
  rpmbuild --quiet --define "_topdir $top" --define '_build_id_links none' -bb "$top/SPECS/$name.spec" >/dev/null
}

spec forge-release 9 'Forge Linux release files and repository definition' '' "
mkdir -p %{buildroot}/etc/yum.repos.d
cat > %{buildroot}/etc/yum.repos.d/forge.repo <<'REPO'
[forge-base]
name=Forge Linux \$releasever - Base
baseurl=$baseurl
enabled=1
gpgcheck=0
REPO
cat > %{buildroot}/etc/os-release <<'OS'
NAME=\"Forge Linux\"
VERSION_ID=\"9\"
ID=forge
PLATFORM_ID=\"platform:forge9\"
OS
echo 'Forge Linux release 9' > %{buildroot}/etc/forge-release
" '/etc/yum.repos.d/forge.repo
/etc/os-release
/etc/forge-release' 'Provides: system-release
Provides: system-release(releasever) = 9'

spec dnf 4.99 'Placeholder for the package manager' '' '
mkdir -p %{buildroot}/usr/share/forge
echo "dnf placeholder" > %{buildroot}/usr/share/forge/dnf-placeholder.txt
' '/usr/share/forge/dnf-placeholder.txt'

spec forge-base-files 1.0 'Forge base files' '' '
mkdir -p %{buildroot}/etc/forge %{buildroot}/usr/share/forge
echo "base=1" > %{buildroot}/etc/forge/base.conf
echo "forge base payload" > %{buildroot}/usr/share/forge/base.txt
' '/etc/forge/base.conf
/usr/share/forge/base.txt'

spec forge-tools 2.0 'Forge tools' 'forge-base-files' '
mkdir -p %{buildroot}/usr/bin
printf "#!/bin/sh\necho hello from forge\n" > %{buildroot}/usr/bin/forge-hello
chmod 755 %{buildroot}/usr/bin/forge-hello
' '/usr/bin/forge-hello'

spec forge-extra 1.0 'Forge extra package (not in any group)' '' '
mkdir -p %{buildroot}/usr/share/forge
echo "extra" > %{buildroot}/usr/share/forge/extra.txt
' '/usr/share/forge/extra.txt'

cp "$top"/RPMS/noarch/*.rpm "$out/repo/"
cp "$top"/RPMS/noarch/forge-release-9-1.noarch.rpm "$out/forge-release.rpm"

cat >"$out/comps.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>base</id>
    <name>Base</name>
    <description>The Forge Linux base system.</description>
    <default>true</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="mandatory">forge-base-files</packagereq>
      <packagereq type="mandatory">forge-tools</packagereq>
    </packagelist>
  </group>
</comps>
EOF
createrepo_c --quiet --groupfile "$out/comps.xml" "$out/repo" >/dev/null
echo "$out/repo"
