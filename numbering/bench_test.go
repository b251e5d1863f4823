package numbering

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// syntheticRegistry is a registry of n ranges of 1,000 numbers across the
// codes 300–999, about the size of the published files together
// (≈ 400,000 lines).
func syntheticRegistry(n int) []byte {
	var b strings.Builder
	b.WriteString("АВС/ DEF;От;До;Емкость;Оператор;Регион;Территория ГАР;ИНН\n")
	regions := []string{"Приморский край", "г. Москва и Московская область", "Республика Саха (Якутия)", "Омская обл.", "Самарская обл."}
	perCode := (n + 699) / 700
	for i := 0; i < n; i++ {
		code, k := 300+i/perCode, i%perCode
		from := k * 1000
		fmt.Fprintf(&b, "%d;%07d;%07d;1000;ПАО \"Оператор %d\";%s;x;1\n", code, from, from+999, i%50, regions[i%len(regions)])
	}
	return []byte(b.String())
}

func BenchmarkLookup(b *testing.B) {
	p, err := Parse("synthetic.csv", syntheticRegistry(400_000))
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	numbers := make([]string, 4096)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+7%03d%07d", 300+r.IntN(700), r.IntN(10_000_000))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p.Lookup(numbers[i%len(numbers)])
	}
}

func BenchmarkLoad(b *testing.B) {
	data := syntheticRegistry(400_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("synthetic.csv", data); err != nil {
			b.Fatal(err)
		}
	}
}
