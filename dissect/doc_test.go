package dissect

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// RulesTable renders Rules as the Markdown table README.md carries.
func rulesTable() string {
	var b strings.Builder
	b.WriteString("| code | severity | RFC | meaning |\n|---|---|---|---|\n")
	for _, r := range rules {
		rfc := r.RFC
		if rfc == "" {
			rfc = "—"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Code, r.Severity, rfc, r.Summary)
	}
	return b.String()
}

// TestReadmeRules keeps the findings table of README.md equal to Rules.
func TestReadmeRules(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if table := rulesTable(); !strings.Contains(string(readme), table) {
		t.Errorf("README.md's findings table is not up to date; it must contain:\n%s", table)
	}
}
