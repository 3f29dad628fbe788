package mail

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/compadre-dev/compadre/auth"
)

// Dir is the local sink: it writes each message to a file of its own in a
// directory (RFC 5322 text, mode 0600, named by its date and Message-ID so
// names sort by date) and logs a line naming the recipient and the file,
// never the link. A mail client opens the files as they are.
type Dir struct {
	path string
	log  *slog.Logger
}

// NewDir returns a sink writing into path, created (0700) if missing.
func NewDir(path string, log *slog.Logger) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("mail: sink: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dir{path: path, log: log}, nil
}

// From is DefaultFrom.
func (d *Dir) From() string { return DefaultFrom }

// FileSuffix ends the name of every file the sink writes.
const FileSuffix = ".eml"

// Send writes the message to its file, which appears whole or not at all.
func (d *Dir) Send(_ context.Context, m Message) error {
	local, _, _ := strings.Cut(m.ID, "@")
	path := filepath.Join(d.path, m.Date.UTC().Format("20060102T150405.000000Z")+"-"+local+FileSuffix)
	if err := auth.WriteFileAtomic(path, m.Bytes(), 0o600); err != nil {
		return fmt.Errorf("mail: sink: %w", err)
	}
	d.log.Info("mail written to the local sink", "to", m.To, "file", path)
	return nil
}
