package httpjson_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/regiondrill/regiondrill/internal/lab/httpjson"
)

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	httpjson.Write(rec, http.StatusCreated, map[string]string{"id": "f1"})
	if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != "{\"id\":\"f1\"}\n" {
		t.Fatalf("%d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	rec = httptest.NewRecorder()
	httpjson.Write(rec, http.StatusOK, map[string]any{"f": func() {}})
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("a value that does not encode answered %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	httpjson.Errorf(rec, http.StatusBadRequest, "two %s", "problems:\nfirst\nsecond")
	if rec.Code != http.StatusBadRequest || rec.Body.String() != "{\"error\":\"two problems:; first; second\"}\n" {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	httpjson.Raw(rec, http.StatusAccepted, []byte(`{"key":"k"}`))
	if rec.Code != http.StatusAccepted || rec.Body.String() != `{"key":"k"}` {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}
