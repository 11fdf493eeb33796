package gen

import "testing"

// BenchmarkScenario measures generation speed on scaled-down scenarios;
// run the full ones with cmd/wscapgen.
func BenchmarkScenario(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    ScenarioParams
	}{
		{"medium", ScenarioParams{Conns: 200, Messages: 32}},
		{"many", ScenarioParams{Conns: 10000, Messages: 4}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var bytes int64
			for b.Loop() {
				c, err := NewScenario(bc.name, Options{Seed: 1}, bc.p)
				if err != nil {
					b.Fatal(err)
				}
				var n countWriter
				if _, err := c.Write(&n); err != nil {
					b.Fatal(err)
				}
				bytes = int64(n)
			}
			b.SetBytes(bytes)
		})
	}
}
