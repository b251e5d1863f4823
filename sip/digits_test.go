package sip

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDigitBufferRead(t *testing.T) {
	short := DigitOptions{FirstTimeout: 50 * time.Millisecond, InterTimeout: 50 * time.Millisecond}
	with := func(f func(*DigitOptions)) DigitOptions { o := short; f(&o); return o }
	for _, tc := range []struct {
		name    string
		typed   string // pressed before Read
		later   string // pressed while Read waits
		opts    DigitOptions
		want    string
		wantErr error
	}{
		{"one digit by default", "57", "", short, "5", nil},
		{"max digits", "12345", "", with(func(o *DigitOptions) { o.Max = 3 }), "123", nil},
		{"terminator ends and is dropped", "12#4", "", with(func(o *DigitOptions) { o.Max = 10; o.Terminator = '#' }), "12", nil},
		{"first timeout returns nothing, no error", "", "", short, "", nil},
		{"inter-digit timeout returns what came", "12", "", with(func(o *DigitOptions) { o.Max = 5 }), "12", nil},
		{"digits pressed while waiting", "", "9", short, "9", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewDigitBuffer()
			for _, d := range tc.typed {
				b.Push(d)
			}
			if tc.later != "" {
				go func() {
					time.Sleep(10 * time.Millisecond)
					for _, d := range tc.later {
						b.Push(d)
					}
				}()
				tc.opts.FirstTimeout = 5 * time.Second // the digit must come first
			}
			got, err := b.Read(context.Background(), tc.opts, nil)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Read = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	t.Run("hang-up and cancel", func(t *testing.T) {
		b := NewDigitBuffer()
		ended := make(chan struct{})
		close(ended)
		long := DigitOptions{FirstTimeout: time.Minute}
		if _, err := b.Read(context.Background(), long, ended); err != ErrHangup {
			t.Fatalf("ended: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := b.Read(ctx, long, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
	})
	t.Run("peek, flush, bound", func(t *testing.T) {
		b := NewDigitBuffer()
		for i := 0; i < 100; i++ {
			b.Push('1')
		}
		if d, ok := b.Peek(); !ok || d != '1' {
			t.Fatal("peek")
		}
		n := 0
		for {
			if _, ok := b.Pop(); !ok {
				break
			}
			n++
		}
		if n != maxBufferedDigits {
			t.Fatalf("buffered %d digits, want the bound %d", n, maxBufferedDigits)
		}
		b.Push('2')
		b.Flush()
		if _, ok := b.Pop(); ok {
			t.Fatal("flush kept a digit")
		}
	})
}
