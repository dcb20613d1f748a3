// tlogverify checks a running register's transparency log with Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog: the reference
// implementations of C2SP signed-note and of the RFC 6962 tree with its tiles
// (C2SP tlog-tiles grew out of them), written outside this project.
//
//	tlogverify BASE-URL
//
// It opens the checkpoint with the published verifier key; reads every entry
// and recomputes the tree from them; checks the inclusion proof of every entry
// (from the proof endpoint, and one built from the hash tiles, which the tile
// reader itself holds to the signed root); the consistency proof from every
// earlier size; that the entry bundles hold the entries; and that a wrong
// key, a changed checkpoint, entry or proof is refused. Built in GOPATH mode
// against Debian's golang-golang-x-mod-dev (tests/contract/run).
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

var base string

var client = &http.Client{Timeout: 30 * time.Second}

func get(path string) []byte {
	resp, err := client.Get(base + path)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		fail("GET %s: %s: %s", path, resp.Status, body)
	}
	return body
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogverify: FAILED: "+format+"\n", args...)
	os.Exit(1)
}

// checkpoint is a C2SP tlog-checkpoint: origin, size, base64 root hash.
func checkpoint(text string) (string, tlog.Tree) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		fail("a checkpoint has three lines and a newline: %q", text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		fail("checkpoint size %q", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("checkpoint root %q: %v", lines[2], err)
	}
	return lines[0], tlog.Tree{N: size, Hash: root}
}

// hashes decodes the "hashes" of a proof answer.
func hashes(body []byte) []tlog.Hash {
	var proof struct {
		Hashes []string `json:"hashes"`
	}
	if err := json.Unmarshal(body, &proof); err != nil {
		fail("a proof answer: %v", err)
	}
	out := make([]tlog.Hash, len(proof.Hashes))
	for i, h := range proof.Hashes {
		parsed, err := tlog.ParseHash(h)
		if err != nil {
			fail("a proof hash %q: %v", h, err)
		}
		out[i] = parsed
	}
	return out
}

// tiles reads C2SP tlog-tiles: Go's tile paths carry the height
// (tile/8/L/N), C2SP's do not (tile/L/N; the height is 8).
type tiles struct{ fetched int }

func (t *tiles) Height() int { return tileHeight }

func (t *tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, tile := range ts {
		path := tile.Path()
		prefix := fmt.Sprintf("tile/%d/", tileHeight)
		if !strings.HasPrefix(path, prefix) {
			return nil, fmt.Errorf("unexpected tile path %s", path)
		}
		out[i] = get("/v1/log/tile/" + strings.TrimPrefix(path, prefix))
		t.fetched++
	}
	return out, nil
}

func (t *tiles) SaveTiles([]tlog.Tile, [][]byte) {}

// memory holds the stored hashes of a tree recomputed from its entries.
type memory []tlog.Hash

func (m memory) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

// bundle splits a C2SP entry bundle: each entry a big-endian uint16 length
// and its bytes.
func bundle(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			fail("an entry bundle ends in the middle of a length")
		}
		n := int(data[0])<<8 | int(data[1])
		if len(data) < 2+n {
			fail("an entry bundle ends in the middle of an entry")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tlogverify BASE-URL")
		os.Exit(2)
	}
	base = strings.TrimRight(os.Args[1], "/")

	// The checkpoint, opened with the published key.
	vkey := strings.TrimSpace(string(get("/v1/log/verifier-key")))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("the verifier key %q: %v", vkey, err)
	}
	signed := get("/v1/log/checkpoint")
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		fail("the checkpoint does not open with the verifier key: %v", err)
	}
	origin, tree := checkpoint(n.Text)
	if origin != verifier.Name() {
		fail("the checkpoint's origin %q is not the key's name %q", origin, verifier.Name())
	}
	if tree.N < 2 {
		fail("the log holds %d entries: too few to check", tree.N)
	}

	// Refusals: another key of the same name, a changed checkpoint.
	_, vkeyOther, err := note.GenerateKey(rand.Reader, verifier.Name())
	if err != nil {
		fail("%v", err)
	}
	wrong, err := note.NewVerifier(vkeyOther)
	if err != nil {
		fail("%v", err)
	}
	if _, err := note.Open(signed, note.VerifierList(wrong)); err == nil {
		fail("the checkpoint opens with another key")
	}
	changed := bytes.Replace(signed, []byte("\n"+strconv.FormatInt(tree.N, 10)+"\n"),
		[]byte("\n"+strconv.FormatInt(tree.N+1, 10)+"\n"), 1)
	if _, err := note.Open(changed, note.VerifierList(verifier)); err == nil {
		fail("a checkpoint with another size opens")
	}

	// Every entry, and the tree recomputed from them.
	entries := make([][]byte, tree.N)
	var stored memory
	for i := int64(0); i < tree.N; i++ {
		entries[i] = get(fmt.Sprintf("/v1/log/entries/%d", i))
		hs, err := tlog.StoredHashes(i, entries[i], stored)
		if err != nil {
			fail("stored hashes of entry %d: %v", i, err)
		}
		stored = append(stored, hs...)
	}
	root, err := tlog.TreeHash(tree.N, stored)
	if err != nil {
		fail("%v", err)
	}
	if root != tree.Hash {
		fail("the entries make root %v, the checkpoint says %v", root, tree.Hash)
	}

	// Inclusion of every entry: the endpoint's proof, and one from the tiles.
	tileReader := &tiles{}
	fromTiles := tlog.TileHashReader(tree, tileReader)
	for i := int64(0); i < tree.N; i++ {
		leaf := tlog.RecordHash(entries[i])
		proof := hashes(get(fmt.Sprintf("/v1/log/proof/inclusion?index=%d&treeSize=%d", i, tree.N)))
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, leaf); err != nil {
			fail("inclusion of entry %d: %v", i, err)
		}
		tiled, err := tlog.ProveRecord(tree.N, i, fromTiles)
		if err != nil {
			fail("an inclusion proof of entry %d from the tiles: %v", i, err)
		}
		if err := tlog.CheckRecord(tiled, tree.N, tree.Hash, i, leaf); err != nil {
			fail("inclusion of entry %d, from the tiles: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(append(entries[i], ' '))); err == nil {
			fail("a changed entry %d is proven included", i)
		}
		if len(proof) > 0 {
			proof[0][0] ^= 1
			if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, leaf); err == nil {
				fail("a changed proof of entry %d verifies", i)
			}
		}
	}

	// Consistency of every earlier size with this one.
	for m := int64(1); m <= tree.N; m++ {
		old, err := tlog.TreeHash(m, stored)
		if err != nil {
			fail("%v", err)
		}
		proof := hashes(get(fmt.Sprintf("/v1/log/proof/consistency?from=%d&to=%d", m, tree.N)))
		if err := tlog.CheckTree(proof, tree.N, tree.Hash, m, old); err != nil {
			fail("consistency of %d with %d: %v", m, tree.N, err)
		}
		if m < tree.N {
			forged := old
			forged[0] ^= 1
			if err := tlog.CheckTree(proof, tree.N, tree.Hash, m, forged); err == nil {
				fail("consistency with a rewritten tree of %d verifies", m)
			}
		}
	}

	// The entry bundles hold the entries.
	var bundled [][]byte
	for k := int64(0); k*256 < tree.N; k++ {
		width := tree.N - k*256
		path := tlog.Tile{H: tileHeight, L: 0, N: k, W: 256}.Path()
		if width < 256 {
			path = tlog.Tile{H: tileHeight, L: 0, N: k, W: int(width)}.Path()
		}
		// tile/8/0/N[.p/W] → tile/entries/N[.p/W]
		suffix := strings.TrimPrefix(path, fmt.Sprintf("tile/%d/0/", tileHeight))
		bundled = append(bundled, bundle(get("/v1/log/tile/entries/"+suffix))...)
	}
	if int64(len(bundled)) != tree.N {
		fail("the entry bundles hold %d entries, the tree %d", len(bundled), tree.N)
	}
	for i := range bundled {
		if !bytes.Equal(bundled[i], entries[i]) {
			fail("entry %d differs between its bundle and /v1/log/entries", i)
		}
	}

	fmt.Printf("tlogverify: %s: checkpoint of %d entries signed by %s (key hash %08x); %d inclusion proofs from the endpoint and %d from %d tiles, %d consistency proofs and %d bundled entries verify with golang.org/x/mod/sumdb\n",
		base, tree.N, verifier.Name(), verifier.KeyHash(), tree.N, tree.N, tileReader.fetched, tree.N, len(bundled))
}
