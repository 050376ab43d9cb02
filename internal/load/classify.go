package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"
)

// classify maps a transport error to its class. afterHeaders is true when
// the response headers arrived and reading the body failed.
func (g *Generator) classify(ctx context.Context, err error, afterHeaders bool) ErrClass {
	if timedOut(ctx) {
		return ErrTimeout
	}
	if g.reqCtx.Err() != nil {
		return ErrCanceled // cut off at the end of the run
	}
	var op *net.OpError
	if !afterHeaders && errors.As(err, &op) && op.Op == "dial" {
		return ErrConnect
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return ErrConnect
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return ErrTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrTimeout
	}
	if isTLS(err) {
		return ErrTLS
	}
	return ErrBodyRead
}

func isTLS(err error) bool {
	var (
		rh tls.RecordHeaderError
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
		al tls.AlertError
	)
	return errors.As(err, &rh) || errors.As(err, &cv) || errors.As(err, &ua) ||
		errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &al) ||
		strings.Contains(err.Error(), "tls: ")
}
