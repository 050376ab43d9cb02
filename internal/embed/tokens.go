package embed

import (
	"strings"
	"unicode"

	porterstemmer "github.com/blevesearch/go-porterstemmer"
)

// Tokens splits text into lowercase runs of letters and digits, drops
// English stop words and Porter-stems the rest. Hash and the coverage probe
// share it, so both see the same content words.
func Tokens(text string) []string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := make([]string, 0, len(words))
	for _, w := range words {
		if _, stop := stopWords[w]; stop {
			continue
		}
		if len(w) == 1 && !unicode.IsDigit(rune(w[0])) {
			continue // stray letters from "x's", "e.g."
		}
		out = append(out, porterstemmer.StemString(w))
	}
	return out
}

// stopWords are function words that carry no topic, plus the frame words
// of questions ("how many", "how often", "what kind"): they say what shape
// the answer has, not what it is about, and answers rarely repeat them.
var stopWords = func() map[string]struct{} {
	const list = `a about above after again against all also am an and any are
as at be because been before being below between both but by can cannot could
did do does doing done down during each else ever few for from further get gets
got had has have having he her here hers herself him himself his how however i
if in into is it its itself just let me more most much must my myself no nor not
now of off on once only or other ought our ours ourselves out over own per same
shall she should so some such than that the their theirs them themselves then
there these they this those through thus to too under until up upon us use used
uses using very via was we were what when where which while who whom whose why
will with within without would yet you your yours yourself yourselves
many often quickly kind happens happen mean means`
	m := map[string]struct{}{}
	for _, w := range strings.Fields(list) {
		m[w] = struct{}{}
	}
	return m
}()
