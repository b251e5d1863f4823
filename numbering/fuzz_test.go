package numbering

import (
	"fmt"
	"os"
	"testing"
)

// FuzzParse: any bytes give a plan or an *Error naming a line of the
// input, never a panic; every range of a plan is found again by Lookup.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/DEF-9xx.csv", "testdata/ABC-3xx.csv", "testdata/ABC-old-cp1251.csv"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("914;1000000;1999999;1000000;x;Приморский край;1\n914;1999999;2000000;2;x;y;1\n"))
	f.Add([]byte("АВС/ DEF;От;До\n"))
	f.Add([]byte("\xEF\xBB\xBF\r\n;;;;;;;\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.csv", data)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.File != "fuzz.csv" || e.Line < 1 {
				t.Fatalf("error %v is not fuzz.csv:LINE", err)
			}
			return
		}
		for _, r := range p.ranges {
			for _, n := range []uint64{r.from, r.to} {
				num := fmt.Sprintf("+7%010d", n)
				info, ok := p.Lookup(num)
				if want := p.infos[r.info]; !ok || info.Region != want.Region || info.Operator != want.Operator {
					t.Fatalf("%s: not found (%v)", num, ok)
				}
			}
		}
	})
}
