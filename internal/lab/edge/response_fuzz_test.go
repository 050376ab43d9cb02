package edge

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// FuzzReadResponse feeds the edge's HTTP/1.1 response parser (readHead,
// then the body as framed) the bytes a backend might send. It must never
// panic nor hang; whenever both it and net/http's http.ReadResponse read
// the bytes cleanly they must agree on the status, the end-to-end headers
// and the body; and a response net/http reads must be read by the edge
// too, unless RFC 9112 lets a proxy refuse it (see lenient).
func FuzzReadResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nEtag: \"a\"\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\ncontent-length: 2\r\n\r\nno",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
		"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 099 Odd\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/0.1 100 x\n\nbody",
		"HTTP/1.0  100\n\n",
		// net/http ignores Transfer-Encoding in HTTP/1.0 and reads the chunks
		// as the body; the edge decoded them until it refused the framing.
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
		"HTTP/1.0 200 \nTrAnsfer-EnCoding:0000000\n\n000",
		// The edge trimmed Unicode spaces and forwarded NUL, CR and names
		// that are not tokens.
		"HTTP/1.1 200 OK\r\nX-A: \u00a0x\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX\x00A: b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A:\t x \t\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, raw []byte, headMethod bool) {
		method := http.MethodGet
		if headMethod {
			method = http.MethodHead
		}
		h := http.Header{}
		br := bufio.NewReaderSize(bytes.NewReader(raw), 4096)
		hd, err := readHead(br, h, method)
		var body []byte
		var bodyErr error
		if err == nil {
			b := newBody(br, hd)
			body, bodyErr = io.ReadAll(io.LimitReader(&b, int64(len(raw))+1))
		} else if len(h) != 0 {
			t.Fatalf("refused (%v) but left headers %v", err, h)
		}
		// Whatever the edge forwards is a valid field (RFC 9110 5.1, 5.5).
		for k, vs := range h {
			if !isToken([]byte(k)) {
				t.Fatalf("%q: forwards field name %q", raw, k)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n\x00") || strings.Trim(v, " \t") != v {
					t.Fatalf("%q: forwards %s: %q", raw, k, v)
				}
			}
		}

		want, werr := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: method})
		if werr != nil {
			return // not a valid response: only the absence of panics and hangs is asked
		}
		wantBody, wbErr := io.ReadAll(want.Body)
		if wbErr != nil {
			return // framing net/http cannot read through either
		}
		if err != nil {
			if why := lenient(raw); why != "" {
				return // net/http is lenient here; the edge, a proxy, refuses
			}
			t.Fatalf("net/http reads %q (status %d) but the edge refuses it: %v", raw, want.StatusCode, err)
		}
		if hd.status != want.StatusCode {
			t.Fatalf("%q: status %d, net/http %d", raw, hd.status, want.StatusCode)
		}
		if bodyErr != nil || !bytes.Equal(body, wantBody) {
			t.Fatalf("%q: body %q (%v), net/http %q", raw, body, bodyErr, wantBody)
		}
		for k, vs := range want.Header {
			if isHop(k) || k == "Content-Length" {
				continue
			}
			if !slices.Equal(h[k], vs) {
				t.Fatalf("%q: header %s = %q, net/http %q", raw, k, h[k], vs)
			}
		}
		for k := range h {
			if _, ok := want.Header[k]; !ok && k != "Content-Length" {
				t.Fatalf("%q: header %s = %q, which net/http does not see", raw, k, h[k])
			}
		}
	})
}

// statusLine is RFC 9112 4's status-line, the reason optional.
var statusLine = regexp.MustCompile(`^HTTP/1\.[0-9] [1-9][0-9][0-9]( [^\x00-\x08\x0a-\x1f\x7f]*)?$`)

// lenient says why a head net/http reads is not valid HTTP/1.1, so that a
// proxy may refuse it: a status line other than RFC 9112 4's (HTTP/1.x,
// one space, a code of 100-999), a field line folded onto the next
// (obs-fold, 5.2), a field name that is not a token (RFC 9110 5.1), a CR or
// NUL in a field value (5.5), Transfer-Encoding in an HTTP/1.0 response
// (RFC 9112 6.1: faulty framing). "" when the head is valid in these
// respects.
func lenient(raw []byte) string {
	head, _, _ := bytes.Cut(raw, []byte("\n\r\n"))
	head, _, _ = bytes.Cut(head, []byte("\n\n"))
	lines := bytes.Split(head, []byte("\n"))
	status := bytes.TrimSuffix(lines[0], []byte("\r"))
	if !statusLine.Match(status) {
		return "status line is not HTTP/1.x, one space, a code of 100-999, then a space and the reason"
	}
	http10 := bytes.HasPrefix(status, []byte("HTTP/1.0"))
	for _, l := range lines[1:] {
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
			return "obs-fold"
		}
		name, value, _ := bytes.Cut(l, []byte(":"))
		if !isToken(name) {
			return "field name is not a token"
		}
		if bytes.ContainsAny(value, "\r\x00") {
			return "CR or NUL in a field value"
		}
		if http10 && bytes.EqualFold(name, []byte("Transfer-Encoding")) {
			return "Transfer-Encoding in HTTP/1.0"
		}
	}
	return ""
}
