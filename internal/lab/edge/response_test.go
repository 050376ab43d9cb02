package edge

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReadHeadFraming(t *testing.T) {
	cases := []struct {
		name, method, raw string
		want              head
		body              string // what the body reads as, when clean
		hdr               string // a header that must be forwarded, "Key: value"
		bad               bool
	}{
		{name: "content-length keep-alive", raw: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\n\r\nabcEXTRA",
			want: head{status: 200, length: 3}, body: "abc", hdr: "X-A: 1"},
		{name: "connection close", raw: "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
			want: head{status: 200, length: 0, close: true}},
		{name: "http/1.0 closes by default", raw: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
			want: head{status: 200, length: 1, close: true}, body: "x"},
		{name: "http/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx",
			want: head{status: 200, length: 1}, body: "x"},
		{name: "chunked wins over length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nT: x\r\n\r\nNEXT",
			want: head{status: 200, length: -1, chunked: true}, body: "hi"},
		{name: "until close", raw: "HTTP/1.1 200 OK\r\n\r\nall of it",
			want: head{status: 200, length: -1, close: true}, body: "all of it"},
		{name: "head has no body", method: http.MethodHead, raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
			want: head{status: 200, length: 0}, hdr: "Content-Length: 10"},
		{name: "204 has no body", raw: "HTTP/1.1 204 No Content\r\n\r\n", want: head{status: 204, length: 0}},
		{name: "lower-case names", raw: "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nno",
			want: head{status: 404, length: 2}, body: "no", hdr: "Content-Type: text/plain"},
		{name: "bad status line", raw: "HTTP/2 200\r\n\r\n", bad: true},
		{name: "conflicting lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", bad: true},
		{name: "unknown coding", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", bad: true},
		{name: "unicode space kept", raw: "HTTP/1.1 200 OK\r\nX-A: \u00a0x \r\nContent-Length: 0\r\n\r\n",
			want: head{status: 200, length: 0}, hdr: "X-A: \u00a0x"},
		{name: "nul in a value", raw: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", bad: true},
		{name: "cr in a value", raw: "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", bad: true},
		{name: "name not a token", raw: "HTTP/1.1 200 OK\r\nX(A): b\r\n\r\n", bad: true},
		{name: "folded line", raw: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n", bad: true},
		{name: "coding in http/1.0", raw: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", bad: true},
		{name: "cut in the head", raw: "HTTP/1.1 200 OK\r\nContent-Le", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.raw))
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			h := http.Header{}
			got, err := readHead(br, h, method)
			if tc.bad {
				if err == nil || len(h) != 0 {
					t.Fatalf("accepted: %+v %v (err %v)", got, h, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			for _, hop := range []string{"Connection", "Transfer-Encoding"} {
				if _, ok := h[hop]; ok {
					t.Fatalf("hop-by-hop %s kept: %v", hop, h)
				}
			}
			if tc.hdr != "" {
				k, v, _ := strings.Cut(tc.hdr, ": ")
				if h.Get(k) != v {
					t.Fatalf("header %s = %q, want %q (%v)", k, h.Get(k), v, h)
				}
			}
			b := newBody(br, got)
			all, err := io.ReadAll(&b)
			if err != nil || string(all) != tc.body {
				t.Fatalf("body %q, %v; want %q", all, err, tc.body)
			}
		})
	}
}

func TestBodyCutShortIsAnError(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", // no final CRLF
	} {
		br := bufio.NewReader(strings.NewReader(raw))
		hd, err := readHead(br, http.Header{}, http.MethodGet)
		if err != nil {
			t.Fatal(err)
		}
		b := newBody(br, hd)
		if _, err := io.ReadAll(&b); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%q: read error %v, want unexpected EOF", raw, err)
		}
	}
}
