package testpki_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/openykt/yktd/internal/testpki"
)

// TestIssued: the certificates the CA issues verify against it for their
// use, and not against another CA; the files written load back.
func TestIssued(t *testing.T) {
	ca, other := testpki.NewCA(t, "test CA"), testpki.NewCA(t, "other CA")
	srv, cli := ca.IssueServer(t), ca.IssueClient(t)
	check := func(c tls.Certificate, usage x509.ExtKeyUsage, roots *x509.CertPool) error {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	if err := check(srv, x509.ExtKeyUsageServerAuth, ca.Pool()); err != nil {
		t.Errorf("server certificate: %v", err)
	}
	if leaf, _ := x509.ParseCertificate(srv.Certificate[0]); leaf.VerifyHostname("127.0.0.1") != nil {
		t.Error("server certificate is not for 127.0.0.1")
	}
	if err := check(cli, x509.ExtKeyUsageClientAuth, ca.Pool()); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if err := check(cli, x509.ExtKeyUsageServerAuth, ca.Pool()); err == nil {
		t.Error("client certificate verifies for server use")
	}
	if err := check(srv, x509.ExtKeyUsageServerAuth, other.Pool()); err == nil {
		t.Error("server certificate verifies against another CA")
	}
	if p := x509.NewCertPool(); !p.AppendCertsFromPEM(ca.PEM) {
		t.Error("CA PEM does not parse")
	}

	certFile, keyFile := testpki.WriteFiles(t, t.TempDir(), srv)
	loaded, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Certificate) != 1 || string(loaded.Certificate[0]) != string(srv.Certificate[0]) {
		t.Error("written certificate differs")
	}
}
