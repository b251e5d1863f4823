package staffing

import "math"

// gammaEps is the relative accuracy asked of the incomplete gamma series and
// continued fraction.
const gammaEps = 1e-16

// gammaMaxIter bounds the series and continued fraction. Both converge in
// O(sqrt(a)) steps near the transition z ≈ a, far fewer elsewhere; the bound
// only guards against a non-finite input.
const gammaMaxIter = 10_000_000

// logGammaPQ holds log P(a,z) and log Q(a,z), the logarithms of the
// regularised lower and upper incomplete gamma functions (P + Q = 1).
type logGammaPQ struct {
	lp, lq float64
}

// incGamma returns log P(a,z) and log Q(a,z) for a > 0, z ≥ 0. The smaller of
// the two is computed directly (series for z < a+1, Lentz continued fraction
// otherwise, as in Numerical Recipes §6.2) and the other as log(1-e^x), so
// both stay accurate when they are tiny: no under- or overflow for a and z in
// the millions.
func incGamma(a, z float64) logGammaPQ {
	if z <= 0 {
		return logGammaPQ{lp: math.Inf(-1), lq: 0}
	}
	lg, _ := math.Lgamma(a)
	pre := a*math.Log(z) - z - lg // log(z^a e^-z / Γ(a))
	if z < a+1 {
		// P(a,z) = z^a e^-z / Γ(a+1) · Σ_k z^k / ((a+1)…(a+k))
		sum, term := 1.0, 1.0
		for k := 1; k < gammaMaxIter; k++ {
			term *= z / (a + float64(k))
			sum += term
			if term < sum*gammaEps {
				break
			}
		}
		lp := pre - math.Log(a) + math.Log(sum)
		return logGammaPQ{lp: lp, lq: log1mexp(lp)}
	}
	// Q(a,z) = z^a e^-z / Γ(a) · 1/(z+1-a- 1(1-a)/(z+3-a- 2(2-a)/(z+5-a- …)))
	const tiny = 1e-300
	b := z + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < gammaMaxIter; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < gammaEps {
			break
		}
	}
	lq := pre + math.Log(h)
	return logGammaPQ{lp: log1mexp(lq), lq: lq}
}

// logGammaDiff returns log(P(a,y) − P(a,z)) for z ≤ y, given incGamma at both
// points. It subtracts the lower functions when they are small and the upper
// ones otherwise, so the difference keeps its relative accuracy.
func logGammaDiff(atY, atZ logGammaPQ) float64 {
	if atY.lp <= -math.Ln2 {
		return atY.lp + log1mexp(atZ.lp-atY.lp)
	}
	return atZ.lq + log1mexp(atY.lq-atZ.lq)
}

// log1mexp returns log(1 − e^x) for x ≤ 0 (Mächler's accurate split).
func log1mexp(x float64) float64 {
	if x >= 0 {
		return math.Inf(-1)
	}
	if x > -math.Ln2 {
		return math.Log(-math.Expm1(x))
	}
	return math.Log1p(-math.Exp(x))
}
