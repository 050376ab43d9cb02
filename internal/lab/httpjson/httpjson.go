// Package httpjson writes the JSON answers of the lab's HTTP services
// (region, write path, edge control, fault API), one way for all of them.
package httpjson

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Write answers status with v as JSON, followed by a newline. A value that
// does not encode answers 500 with the reason rather than half a body.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	Raw(w, status, append(b, '\n'))
}

// Raw answers status with body, which is JSON already (a stored answer
// replayed byte for byte).
func Raw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away: nothing to do
}

// Error answers status with {"error": msg}, msg kept on one line.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, map[string]string{"error": strings.ReplaceAll(msg, "\n", "; ")})
}

// Errorf is Error with a formatted message.
func Errorf(w http.ResponseWriter, status int, format string, args ...any) {
	Error(w, status, fmt.Sprintf(format, args...))
}
