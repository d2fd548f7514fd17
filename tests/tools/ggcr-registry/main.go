// SPDX-License-Identifier: Apache-2.0

// ggcr-registry: go-containerregistry's in-memory registry (pkg/registry) for tests, with the
// OCI 1.1 referrers API (GET /v2/<name>/referrers/<digest>) that Debian's docker-registry 2.8
// lacks. go-containerregistry's own cmd/registry does not turn the API on
// (registry.WithReferrersSupport) and listens on localhost:1338 by default; this one does,
// listens on 127.0.0.1 (a free port by default) and prints the port on stdout once it
// listens (tests/lib/common.sh `serve`). Requests are logged on stderr.
//
//	ggcr-registry [-addr 127.0.0.1:0] [-referrers spec|ggcr|off]
//
// -referrers:
//
//	spec  (default) the library's handler, with two corrections so that answers follow the
//	      distribution spec: each descriptor's artifactType is the manifest's artifactType
//	      when it has one (the library always gives config.mediaType), and the
//	      ?artifactType= filter is applied (with the OCI-Filters-Applied header). A manifest
//	      PUT with a subject is answered with an OCI-Subject header.
//	ggcr  the library's handler as it is (no filtering, artifactType = config.mediaType,
//	      no OCI-Subject).
//	off   no referrers API (404 for /v2/<name>/referrers/...), as go-containerregistry's
//	      cmd/registry: clients fall back to the sha256-<hex> tag schema.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

type manifestHead struct {
	ArtifactType string `json:"artifactType"`
	Config       struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Subject *struct {
		Digest string `json:"digest"`
	} `json:"subject"`
}

// repoAndTarget splits /v2/<name>/<kind>/<target>.
func repoAndTarget(path, kind string) (string, string, bool) {
	elems := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(elems) < 4 || elems[0] != "v2" || elems[len(elems)-2] != kind {
		return "", "", false
	}
	return strings.Join(elems[1:len(elems)-2], "/"), elems[len(elems)-1], true
}

type specReferrers struct{ inner http.Handler }

func (s specReferrers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if repo, target, ok := repoAndTarget(r.URL.Path, "referrers"); ok && r.Method == http.MethodGet {
		s.referrers(w, r, repo, target)
		return
	}
	if _, _, ok := repoAndTarget(r.URL.Path, "manifests"); ok && r.Method == http.MethodPut {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var m manifestHead
		if json.Unmarshal(body, &m) == nil && m.Subject != nil && m.Subject.Digest != "" {
			w.Header().Set("OCI-Subject", m.Subject.Digest)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	s.inner.ServeHTTP(w, r)
}

func (s specReferrers) referrers(w http.ResponseWriter, r *http.Request, repo, target string) {
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	var idx index
	if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	want := r.URL.Query().Get("artifactType")
	out := idx
	out.Manifests = []descriptor{}
	for _, d := range idx.Manifests {
		req := httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/manifests/"+d.Digest, nil)
		mrec := httptest.NewRecorder()
		s.inner.ServeHTTP(mrec, req)
		var m manifestHead
		if mrec.Code == http.StatusOK && json.Unmarshal(mrec.Body.Bytes(), &m) == nil && m.ArtifactType != "" {
			d.ArtifactType = m.ArtifactType
		}
		if want != "" && d.ArtifactType != want {
			continue
		}
		out.Manifests = append(out.Manifests, d)
	}
	body, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	if want != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	log.Printf("%s %s (referrers: %d of %d)", r.Method, r.URL, len(out.Manifests), len(idx.Manifests))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	mode := flag.String("referrers", "spec", "referrers API: spec, ggcr or off")
	flag.Parse()
	logger := log.New(os.Stderr, "", log.LstdFlags)
	log.SetOutput(os.Stderr)

	var h http.Handler
	switch *mode {
	case "spec":
		h = specReferrers{registry.New(registry.Logger(logger), registry.WithReferrersSupport(true))}
	case "ggcr":
		h = registry.New(registry.Logger(logger), registry.WithReferrersSupport(true))
	case "off":
		h = registry.New(registry.Logger(logger))
	default:
		fmt.Fprintf(os.Stderr, "ggcr-registry: -referrers must be spec, ggcr or off, not %q\n", *mode)
		os.Exit(2)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	_ = os.Stdout.Sync()
	logger.Printf("serving on %s (referrers: %s)", l.Addr(), *mode)
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(s.Serve(l))
}
