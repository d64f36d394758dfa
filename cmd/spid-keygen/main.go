// Command spid-keygen writes development keys for the SPID/CIE Relying
// Party (auth/spid): signing, encryption and federation RSA keys as PKCS#8
// PEM files, and prints the spid.keys section that points at them.
//
//	go run ./cmd/spid-keygen -dir ./data/spid
//
// It never overwrites a key: the federation knows the RP by its keys.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/sportello/sportello/auth/spid"
)

func main() {
	dir := flag.String("dir", "./data/spid", "directory for the key files (created, mode 0700)")
	bits := flag.Int("bits", 3072, "RSA key size (at least 2048)")
	flag.Parse()
	keys, err := spid.GenerateKeyFiles(*dir, *bits)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spid-keygen:", err)
		os.Exit(1)
	}
	fmt.Printf("spid:\n  keys:\n    signing: %s\n    encryption: %s\n    federation: %s\n", keys.Signing, keys.Encryption, keys.Federation)
}
