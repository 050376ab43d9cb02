package edge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
)

// errBadResponse marks an upstream answer that is not valid HTTP/1.x.
var errBadResponse = errors.New("malformed upstream response")

// head is an upstream response's status and body framing. Its headers go
// straight into the client's header map, without hop-by-hop ones.
type head struct {
	status  int
	length  int64 // body bytes; -1 until close or the last chunk
	chunked bool
	close   bool // the connection cannot carry another request
}

// commonKeys interns the usual response header names, so parsing them
// allocates nothing.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Cache-Control", "Content-Encoding", "Content-Language", "Content-Length", "Content-Type",
		"Date", "Etag", "Expires", "Last-Modified", "Location", "Retry-After", "Server", "Set-Cookie",
		"Vary", "Www-Authenticate", "Access-Control-Allow-Origin", "X-Request-Id",
		"Connection", "Keep-Alive", "Transfer-Encoding",
	} {
		m[k] = k
	}
	return m
}()

// readHead parses one response head from br into h (which it clears on
// error). method is the request's, for HEAD's bodiless answers.
func readHead(br *bufio.Reader, h http.Header, method string) (head, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return head{}, fmt.Errorf("status line: %w", eofIsUnexpected(err))
	}
	hd, err := parseStatus(line)
	if err != nil {
		return head{}, err
	}
	http10 := hd.close
	var (
		vals     []string // one backing array for the values
		hasLen   bool
		keepAlv  bool
		sawClose bool
	)
	hd.length = -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			clear(h)
			return head{}, fmt.Errorf("header: %w", eofIsUnexpected(err))
		}
		line = trimEOL(line)
		if len(line) == 0 {
			break
		}
		// A field line is a token, a colon and a value without CR or NUL
		// (RFC 9110 5.1, 5.5); folded lines (obs-fold) are refused, as RFC
		// 9112 5.2 lets a proxy do.
		colon := bytes.IndexByte(line, ':')
		kb, vb := line[:max(colon, 0)], bytes.Trim(line[colon+1:], " \t")
		k, ok := commonKeys[string(kb)]
		if !ok && (colon <= 0 || !isToken(kb)) || bytes.ContainsAny(vb, "\r\x00") {
			clear(h)
			return head{}, fmt.Errorf("%w: header line %q", errBadResponse, line)
		}
		if !ok {
			k = http.CanonicalHeaderKey(string(kb))
		}
		switch k {
		case "Content-Length":
			n, err := strconv.ParseInt(string(vb), 10, 64)
			if err != nil || n < 0 || (hasLen && n != hd.length) {
				clear(h)
				return head{}, fmt.Errorf("%w: Content-Length %q", errBadResponse, vb)
			}
			hd.length, hasLen = n, true
			if len(h[k]) > 0 {
				continue
			}
		case "Transfer-Encoding":
			// HTTP/1.0 has no transfer codings: its framing is faulty
			// (RFC 9112 6.1), and net/http would read the chunks as the body.
			if http10 || !bytes.EqualFold(vb, []byte("chunked")) {
				clear(h)
				return head{}, fmt.Errorf("%w: Transfer-Encoding %q", errBadResponse, vb)
			}
			hd.chunked = true
			continue
		case "Connection":
			sawClose = sawClose || hasToken(vb, "close")
			keepAlv = keepAlv || hasToken(vb, "keep-alive")
			continue
		}
		if isHop(k) {
			continue
		}
		if cap(vals) == len(vals) {
			vals = make([]string, 0, 8)
		}
		vals = append(vals, string(vb))
		if old := h[k]; len(old) > 0 {
			h[k] = append(old, vals[len(vals)-1])
		} else {
			h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	hd.close = sawClose || (http10 && !keepAlv) // HTTP/1.0 closes unless asked not to
	switch {
	case method == http.MethodHead || hd.status < 200 || hd.status == http.StatusNoContent || hd.status == http.StatusNotModified:
		hd.length, hd.chunked = 0, false
	case hd.chunked:
		hd.length = -1
		delete(h, "Content-Length")
	case !hasLen:
		hd.close = true // the body runs to the end of the connection
	}
	return hd, nil
}

// parseStatus reads "HTTP/1.x NNN reason".
func parseStatus(line []byte) (head, error) {
	line = trimEOL(line)
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return head{}, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || code < 100 {
		return head{}, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	hd := head{status: code}
	if line[7] == '0' {
		hd.close = true // provisional; readHead looks for keep-alive
	}
	return hd, nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// isToken reports whether b is an RFC 9110 token (a field name).
func isToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tokenChars[c] {
			return false
		}
	}
	return len(b) > 0
}

var tokenChars = func() (t [128]bool) {
	for c := range t {
		t[c] = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// hasToken reports whether the comma-separated list v holds tok (any case).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var part []byte
		part, v, _ = bytes.Cut(v, []byte(","))
		if bytes.EqualFold(bytes.TrimSpace(part), []byte(tok)) {
			return true
		}
	}
	return false
}

// body reads a response body as framed by its head.
type body struct {
	br      *bufio.Reader
	left    int64     // bytes to go when the length is known
	chunks  io.Reader // chunked decoder, or nil
	toClose bool      // read until the connection ends
}

func newBody(br *bufio.Reader, hd head) body {
	switch {
	case hd.chunked:
		return body{br: br, chunks: httputil.NewChunkedReader(br)}
	case hd.length >= 0:
		return body{br: br, left: hd.length}
	default:
		return body{br: br, toClose: true}
	}
}

// Read returns io.EOF once the body has ended cleanly.
func (b *body) Read(p []byte) (int, error) {
	switch {
	case b.chunks != nil:
		n, err := b.chunks.Read(p)
		if err == io.EOF {
			if err := b.skipTrailer(); err != nil {
				return n, err
			}
		}
		return n, eofOnlyAtEnd(err, true)
	case b.toClose:
		return b.br.Read(p)
	case b.left == 0:
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		return n, io.EOF
	}
	return n, eofOnlyAtEnd(err, false)
}

// skipTrailer consumes trailer fields up to the blank line after the last chunk.
func (b *body) skipTrailer() error {
	for {
		line, err := b.br.ReadSlice('\n')
		if err != nil {
			return eofIsUnexpected(err)
		}
		if len(trimEOL(line)) == 0 {
			return nil
		}
	}
}

// eofOnlyAtEnd turns an early io.EOF into io.ErrUnexpectedEOF.
func eofOnlyAtEnd(err error, atEnd bool) error {
	if err == io.EOF && !atEnd {
		return io.ErrUnexpectedEOF
	}
	return err
}
