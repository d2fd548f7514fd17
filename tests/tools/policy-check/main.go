// SPDX-License-Identifier: Apache-2.0

// policy-check: containers/image's own verdict on an image for a policy.json, to cross-check
// modelvol's signature verification in tests.
//
//	policy-check --policy P --registries-d D [--registries-conf C] docker://HOST:PORT/REPO:TAG
//
// Reads the policy P (containers-policy.json(5)) and the lookaside / sigstore-attachment
// configuration in the directory D (containers-registries.d(5)), opens the image with the
// docker transport (TLS verification off, so a plain-HTTP 127.0.0.1 registry works; the
// registries.conf is C, default an empty one: the host's /etc/containers is never read) and
// asks PolicyContext.IsRunningImageAllowed.
//
// Prints "accept" and exits 0, or "reject: REASON" and exits 1. Anything else (bad usage, an
// unreadable policy, a registry that does not answer, no manifest) exits 2 with "error: ..."
// on stderr: the manifest and the signatures are fetched before the policy is evaluated, so a
// failure to fetch them is not reported as a rejection.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	policyPath := flag.String("policy", "", "policy.json to evaluate")
	registriesD := flag.String("registries-d", "", "registries.d directory (use-sigstore-attachments, lookaside)")
	registriesConf := flag.String("registries-conf", "", "registries.conf (default: an empty one)")
	timeout := flag.Duration("timeout", 60*time.Second, "overall time limit")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: policy-check --policy P --registries-d D [--registries-conf C] docker://HOST:PORT/REPO:TAG")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *policyPath == "" || *registriesD == "" {
		flag.Usage()
		os.Exit(2)
	}
	arg := flag.Arg(0)
	rest, ok := strings.CutPrefix(arg, "docker:")
	if !ok {
		fail("%s: only docker://HOST/REPO[:TAG|@DIGEST] references are supported", arg)
	}
	ref, err := docker.ParseReference(rest)
	if err != nil {
		fail("%s: %v", arg, err)
	}

	conf := *registriesConf
	if conf == "" {
		tmp, err := os.MkdirTemp("", "policy-check-")
		if err != nil {
			fail("%v", err)
		}
		defer os.RemoveAll(tmp)
		conf = filepath.Join(tmp, "registries.conf")
		if err := os.WriteFile(conf, []byte("unqualified-search-registries = []\n"), 0o644); err != nil {
			fail("%v", err)
		}
	}
	sys := &types.SystemContext{
		DockerInsecureSkipTLSVerify: types.OptionalBoolTrue,
		RegistriesDirPath:           *registriesD,
		SystemRegistriesConfPath:    conf,
		SystemRegistriesConfDirPath: conf + ".d",
		// No credentials from the host: a file that does not exist.
		AuthFilePath:        conf + ".auth.json",
		SignaturePolicyPath: *policyPath,
	}

	policy, err := signature.NewPolicyFromFile(*policyPath)
	if err != nil {
		fail("%v", err)
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		fail("%v", err)
	}
	defer func() { _ = pc.Destroy() }()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		fail("%s: %v", arg, err)
	}
	defer src.Close()
	unparsed := image.UnparsedInstance(src, nil)
	// Fetch errors are errors, not verdicts.
	if _, _, err := unparsed.Manifest(ctx); err != nil {
		fail("%s: manifest: %v", arg, err)
	}
	if _, err := unparsed.Signatures(ctx); err != nil {
		fail("%s: signatures: %v", arg, err)
	}

	allowed, err := pc.IsRunningImageAllowed(ctx, unparsed)
	if allowed && err == nil {
		fmt.Println("accept")
		os.Exit(0)
	}
	reason := "not allowed"
	if err != nil {
		reason = strings.ReplaceAll(err.Error(), "\n", " ")
	}
	fmt.Printf("reject: %s\n", reason)
	os.Exit(1)
}
