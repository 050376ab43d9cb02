package journal

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Every line the Writer appends ends in a chain field and, when the journal
// is sealed, a seal field:
//
//	{"seq":..,...,"data":..,"chain":"<64 hex>","seal":"<64 hex>"}
//
// chain is SHA-256(previous chain || the line's bytes before ,"chain":), so
// each line vouches for every line before it; seal is HMAC-SHA-256 of chain
// under a key that never leaves the user's state directory. Anyone can check
// the chain; only the holder of the key can check (or forge) the seal.

// genesis is the chain value before the first line.
var genesis = sha256.Sum256([]byte("regiondrill journal v1\n"))

const (
	hexLen      = 2 * sha256.Size
	chainPrefix = `,"chain":"`
	sealPrefix  = `","seal":"`
	// sealedTail is the length of `,"chain":"<hex>","seal":"<hex>"}`.
	sealedTail = len(chainPrefix) + hexLen + len(sealPrefix) + hexLen + 2
	// chainedTail is the length of `,"chain":"<hex>"}`.
	chainedTail = len(chainPrefix) + hexLen + 2
)

// tail splits a line into its body (the bytes the chain covers, without the
// closing brace) and its chain and seal fields, which are nil when absent.
func tail(b []byte) (body, chain, seal []byte) {
	if n := len(b) - sealedTail; n > 0 && b[len(b)-1] == '}' && b[len(b)-2] == '"' &&
		string(b[n:n+len(chainPrefix)]) == chainPrefix &&
		string(b[n+len(chainPrefix)+hexLen:n+len(chainPrefix)+hexLen+len(sealPrefix)]) == sealPrefix {
		c := b[n+len(chainPrefix) : n+len(chainPrefix)+hexLen]
		return b[:n], c, b[len(b)-2-hexLen : len(b)-2]
	}
	if n := len(b) - chainedTail; n > 0 && b[len(b)-1] == '}' && b[len(b)-2] == '"' &&
		string(b[n:n+len(chainPrefix)]) == chainPrefix {
		return b[:n], b[n+len(chainPrefix) : len(b)-2], nil
	}
	return b, nil, nil
}

// Key seals journals. It lives in the user's state directory (StateDir),
// mode 0600, and is created on first use.
type Key struct {
	b    []byte
	path string
}

// NewKey returns a key made of b (tests; LoadKey for real use).
func NewKey(b []byte) *Key { return &Key{b: bytes.Clone(b), path: "(in memory)"} }

// Path is the key file (or "(in memory)").
func (k *Key) Path() string { return k.path }

func (k *Key) mac() hash.Hash { return hmac.New(sha256.New, k.b) }

// keyFile is the key's file name in the state directory.
const keyFile = "journal.key"

// StateDir is where regiondrill keeps its own state: $REGIONDRILL_STATE_DIR,
// else $XDG_STATE_HOME/regiondrill, else ~/.local/state/regiondrill.
func StateDir() (string, error) {
	if d := os.Getenv("REGIONDRILL_STATE_DIR"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "regiondrill"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("journal key: no state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "regiondrill"), nil
}

// LoadKey reads the journal key from dir (StateDir when dir is ""),
// creating it on first use. A key file others can read or write is refused:
// whoever can read it can forge a journal that rollback trusts.
func LoadKey(dir string) (*Key, error) {
	if dir == "" {
		var err error
		if dir, err = StateDir(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal key: %w", err)
	}
	path := filepath.Join(dir, keyFile)
	k, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("journal key: %w", err)
		}
		f, cerr := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if cerr == nil {
			_, werr := f.Write([]byte(hex.EncodeToString(b) + "\n"))
			if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
				return nil, fmt.Errorf("journal key: write %s: %w", path, err)
			}
		} else if !errors.Is(cerr, fs.ErrExist) { // another process made it first: read theirs
			return nil, fmt.Errorf("journal key: %w", cerr)
		}
		k, err = readKey(path)
	}
	return k, err
}

func readKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("journal key %s: mode %s: it must be a regular file only its owner can read (chmod 600)", path, st.Mode())
	}
	raw, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("journal key %s: %w", path, err)
	}
	b, err := hex.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil || len(b) < 16 {
		return nil, fmt.Errorf("journal key %s: not a hex key of at least 16 bytes", path)
	}
	return &Key{b: b, path: path}, nil
}

// Integrity errors: why a journal cannot be trusted. Each comes wrapped in an
// *IntegrityError naming the line.
var (
	ErrUnsealed = errors.New("unsealed")
	ErrTampered = errors.New("tampered")
	ErrForeign  = errors.New("sealed with another key")
)

// IntegrityError says which line of a journal failed verification and how.
type IntegrityError struct {
	Line int
	Err  error // ErrUnsealed, ErrTampered or ErrForeign
	Why  string
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("journal line %d: %v: %s", e.Line, e.Err, e.Why)
}

func (e *IntegrityError) Unwrap() error { return e.Err }

// verifier checks lines in order against the chain and the seal.
type verifier struct {
	key   *Key
	mac   hash.Hash
	chain [sha256.Size]byte
	line  int
	err   *IntegrityError // the first failure
}

func newVerifier(key *Key) *verifier {
	v := &verifier{key: key, chain: genesis}
	if key != nil {
		v.mac = key.mac()
	}
	return v
}

func (v *verifier) fail(kind error, why string) {
	if v.err == nil {
		v.err = &IntegrityError{Line: v.line, Err: kind, Why: why}
	}
}

// add checks one whole line. After the first failure the chain follows the
// lines as written, so appending to a journal trusted anyway continues it.
func (v *verifier) add(b []byte) {
	v.line++
	body, chain, seal := tail(b)
	if chain == nil {
		if v.line == 1 {
			v.fail(ErrUnsealed, "the journal has no hash chain (written by an older regiondrill)")
		} else {
			v.fail(ErrTampered, "the line has no chain field: it was not written by regiondrill")
		}
		return
	}
	want := next(v.chain, body)
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], chain); err != nil || got != want {
		v.fail(ErrTampered, "the hash chain breaks here: this line or one before it was changed, removed or reordered")
		if err == nil {
			want = got
		}
	}
	v.chain = want
	switch {
	case v.key == nil:
		v.fail(ErrUnsealed, "no key to check the seal with")
	case seal == nil:
		v.fail(ErrUnsealed, "the line carries no seal")
	default:
		v.mac.Reset()
		v.mac.Write(want[:])
		var s [sha256.Size]byte
		if _, err := hex.Decode(s[:], seal); err != nil || !hmac.Equal(s[:], v.mac.Sum(nil)) {
			if v.line == 1 {
				v.fail(ErrForeign, "the seal does not match the key in "+v.key.path+": the journal was sealed by another user or machine")
			} else {
				v.fail(ErrTampered, "the seal does not match: the line was forged")
			}
		}
	}
}

func next(prev [sha256.Size]byte, body []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(body)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// Verify checks a journal's chain and seal. It returns nil only when every
// line chains to the one before and carries a seal made with key; otherwise
// an *IntegrityError naming the first line that fails. A torn last line (a
// crash mid-write) is ignored, as Scan ignores it.
func Verify(r io.Reader, key *Key) error {
	v := newVerifier(key)
	err := scanLines(r, func(b []byte, whole bool) error {
		if !whole && !wholeJSON(b) {
			return nil
		}
		v.add(b)
		return nil
	})
	if err != nil {
		return err
	}
	if v.err != nil {
		return v.err
	}
	return nil
}

// Sealed reports whether a journal's first line carries a seal (cheap: it
// reads one line and checks nothing).
func Sealed(r io.Reader) bool {
	sealed := false
	_ = scanLines(r, func(b []byte, _ bool) error {
		_, _, s := tail(b)
		sealed = s != nil
		return io.EOF
	})
	return sealed
}
