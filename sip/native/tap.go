package native

import "github.com/hotline-cc/hotline/sip/media"

// SetTap hands the leg's bridged audio to t (recording; nil stops it):
// what the leg's peer says and what is relayed to it (media.Tap). It fails
// when the leg has no media (not answered, or ended).
func (l *leg) SetTap(t *media.Tap) error {
	st, err := l.mediaReady()
	if err != nil {
		return err
	}
	st.SetTap(t)
	return nil
}
