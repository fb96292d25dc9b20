package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// arMembers reads a Debian package's ar archive: its member names and
// contents, in order.
func arMembers(t *testing.T, b []byte) ([]string, map[string][]byte) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("!<arch>\n")) {
		t.Fatalf("not an ar archive: %q", b[:min(len(b), 8)])
	}
	b = b[8:]
	var names []string
	m := map[string][]byte{}
	for len(b) > 0 {
		if len(b) < 60 {
			t.Fatalf("ar: short header (%d bytes)", len(b))
		}
		name := strings.TrimRight(strings.TrimSpace(string(b[:16])), "/")
		size, err := strconv.Atoi(strings.TrimSpace(string(b[48:58])))
		if err != nil || size < 0 || 60+size > len(b) {
			t.Fatalf("ar: member %q size %q", name, b[48:58])
		}
		names = append(names, name)
		m[name] = b[60 : 60+size]
		b = b[60+size:]
		if size%2 == 1 && len(b) > 0 {
			b = b[1:] // members are 2-byte aligned
		}
	}
	return names, m
}

// tarFiles reads a gzip'd tar: each entry's header and content by path
// (without the leading "./").
func tarFiles(t *testing.T, gz []byte) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	hdrs, data := map[string]*tar.Header{}, map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, data
		}
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		hdrs[p] = h
		if data[p], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDebPackages builds the Debian packages as `make deb` does and reads
// them back: the static binary of each architecture, the unit, the
// example and installed configuration, the data directory's mode, the
// maintainer scripts that make the system user.
func TestDebPackages(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	cmd := exec.Command("sh", "packaging/deb.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DIST="+dist, "DEB_VERSION=1.2.3", "DEB_ARCHES=amd64 arm64 armhf")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("packaging/deb.sh: %v\n%s", err, out)
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "armhf": elf.EM_ARM}
	unit, err := os.ReadFile(filepath.Join(root, "packaging", "yktd.service"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(root, "testdata", "config", "pos.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for arch, machine := range machines {
		t.Run(arch, func(t *testing.T) {
			path := filepath.Join(dist, "deb", fmt.Sprintf("yktd_1.2.3_%s.deb", arch))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if lister, err := exec.LookPath("dpkg-deb"); err == nil {
				out, err := exec.Command(lister, "-c", path).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "./usr/bin/yktd") {
					t.Errorf("dpkg-deb -c: %v\n%s", err, out)
				}
			}
			names, m := arMembers(t, b)
			if strings.Join(names, " ") != "debian-binary control.tar.gz data.tar.gz" {
				t.Fatalf("members %q", names)
			}
			if string(m["debian-binary"]) != "2.0\n" {
				t.Errorf("debian-binary %q", m["debian-binary"])
			}
			_, control := tarFiles(t, m["control.tar.gz"])
			ctl := string(control["control"])
			for _, want := range []string{"Package: yktd\n", "Version: 1.2.3\n", "Architecture: " + arch + "\n", "Depends: adduser"} {
				if !strings.Contains(ctl, want) {
					t.Errorf("control lacks %q:\n%s", want, ctl)
				}
			}
			if !strings.Contains(string(control["postinst"]), "adduser --system") ||
				!strings.Contains(string(control["postinst"]), "install -d -m 0700 -o yktd -g yktd /var/lib/yktd") {
				t.Errorf("postinst makes no system user or data directory:\n%s", control["postinst"])
			}
			if strings.TrimSpace(string(control["conffiles"])) != "/etc/yktd/yktd.toml" {
				t.Errorf("conffiles %q", control["conffiles"])
			}
			hdrs, data := tarFiles(t, m["data.tar.gz"])
			for p, mode := range map[string]int64{
				"usr/bin/yktd": 0o755, "usr/lib/systemd/system/yktd.service": 0o644, "etc/yktd/yktd.toml": 0o640,
				"usr/share/doc/yktd/examples/pos.toml": 0o644, "etc/yktd": 0o750, "var/lib/yktd": 0o700,
			} {
				h, ok := hdrs[p]
				if !ok {
					t.Errorf("%s is not in the package", p)
					continue
				}
				if h.Mode&0o7777 != mode {
					t.Errorf("%s mode %o, want %o", p, h.Mode&0o7777, mode)
				}
			}
			if !bytes.Equal(data["usr/lib/systemd/system/yktd.service"], unit) {
				t.Error("the packaged unit differs from packaging/yktd.service")
			}
			if !bytes.Equal(data["etc/yktd/yktd.toml"], example) || !bytes.Equal(data["usr/share/doc/yktd/examples/pos.toml"], example) {
				t.Error("the packaged configuration differs from testdata/config/pos.toml")
			}
			f, err := elf.NewFile(bytes.NewReader(data["usr/bin/yktd"]))
			if err != nil {
				t.Fatalf("usr/bin/yktd: %v", err)
			}
			if f.Machine != machine {
				t.Errorf("usr/bin/yktd is for %v, want %v", f.Machine, machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
					t.Errorf("usr/bin/yktd is not static (%v)", p.Type)
				}
			}
		})
	}
}
