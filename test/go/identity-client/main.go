// A Go Identity client for the identity conformance test (test/go/identity.test.ts), built from Go
// code that protoc generates from the project's proto/identity.proto. It makes a P-256 key and a CSR
// with Go's crypto/x509 (as a Go or Rust proxy would), calls Certify on a running sluice-controller,
// and checks the answer with Go's x509.Verify against the trust anchors: for the requested identity as
// a DNS name, as a TLS server and as a TLS client. It prints one JSON line with what it found.
//
// Usage: identity-client -addr 127.0.0.1:8080 -identity NAME -token-file FILE -anchors ca.crt [-csr-name NAME]
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"time"

	"github.com/golang/protobuf/ptypes"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	pb "sluice.dev/api/go/identity"
)

type result struct {
	Code           string   `json:"code"`
	Message        string   `json:"message,omitempty"`
	LeafSubject    string   `json:"leaf_subject,omitempty"`
	DNSNames       []string `json:"dns_names,omitempty"`
	LeafIsCA       bool     `json:"leaf_is_ca"`
	Chain          []string `json:"chain,omitempty"`
	ValidUntil     string   `json:"valid_until,omitempty"`
	NotAfter       string   `json:"not_after,omitempty"`
	KeyMatches     bool     `json:"key_matches"`
	VerifiedServer bool     `json:"verified_server"`
	VerifiedClient bool     `json:"verified_client"`
	VerifyError    string   `json:"verify_error,omitempty"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	addr := flag.String("addr", "", "the controller's Identity address")
	identity := flag.String("identity", "", "the identity to ask for")
	csrName := flag.String("csr-name", "", "the DNS name in the CSR (default: the identity)")
	tokenFile := flag.String("token-file", "", "file holding the token")
	anchorsFile := flag.String("anchors", "", "PEM file of the trust anchors")
	serverName := flag.String("server-name", "sluice-controller.sluice.serviceaccount.identity.sluice.cluster.local", "the identity the controller serves Certify as")
	flag.Parse()
	if *csrName == "" {
		*csrName = *identity
	}
	token, err := ioutil.ReadFile(*tokenFile)
	if err != nil {
		fail("token: %v", err)
	}
	anchorsPem, err := ioutil.ReadFile(*anchorsFile)
	if err != nil {
		fail("anchors: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(anchorsPem) {
		fail("anchors: no certificate in %s", *anchorsFile)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail("key: %v", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: *csrName},
		DNSNames: []string{*csrName},
	}, key)
	if err != nil {
		fail("csr: %v", err)
	}

	// Certify is served over TLS with the controller's own certificate, as a proxy verifies it: chained to
	// the anchors and named for the controller's identity.
	conn, err := grpc.Dial(*addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: *serverName})))
	if err != nil {
		fail("dial: %v", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rsp, err := pb.NewIdentityClient(conn).Certify(ctx, &pb.CertifyRequest{
		Identity:                  *identity,
		Token:                     token,
		CertificateSigningRequest: csr,
	})
	out := json.NewEncoder(os.Stdout)
	if err != nil {
		st, _ := status.FromError(err)
		_ = out.Encode(result{Code: st.Code().String(), Message: st.Message()})
		return
	}

	leaf, err := x509.ParseCertificate(rsp.LeafCertificate)
	if err != nil {
		fail("leaf: %v", err)
	}
	intermediates := x509.NewCertPool()
	for _, der := range rsp.IntermediateCertificates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			fail("intermediate: %v", err)
		}
		intermediates.AddCert(c)
	}
	validUntil, err := ptypes.Timestamp(rsp.ValidUntil)
	if err != nil {
		fail("valid_until: %v", err)
	}
	res := result{
		Code:        "OK",
		LeafSubject: leaf.Subject.String(),
		DNSNames:    leaf.DNSNames,
		LeafIsCA:    leaf.IsCA,
		ValidUntil:  validUntil.UTC().Format(time.RFC3339Nano),
		NotAfter:    leaf.NotAfter.UTC().Format(time.RFC3339Nano),
		KeyMatches:  key.PublicKey.Equal(leaf.PublicKey),
	}
	verify := func(usage x509.ExtKeyUsage) bool {
		chains, err := leaf.Verify(x509.VerifyOptions{
			DNSName:       *identity,
			Roots:         roots,
			Intermediates: intermediates,
			KeyUsages:     []x509.ExtKeyUsage{usage},
		})
		if err != nil {
			res.VerifyError = err.Error()
			return false
		}
		if res.Chain == nil {
			for _, c := range chains[0] {
				res.Chain = append(res.Chain, c.Subject.String())
			}
		}
		return true
	}
	res.VerifiedServer = verify(x509.ExtKeyUsageServerAuth)
	res.VerifiedClient = verify(x509.ExtKeyUsageClientAuth)
	_ = out.Encode(res)
}
