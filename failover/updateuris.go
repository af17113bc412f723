package failover

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// maxURIListSize bounds what updateURIsURL may return; a broker list is a
// few hundred bytes.
const maxURIListSize = 64 << 10

// readURIList reads the comma-separated broker list behind updateURIsURL: a
// file path, a file: URL, or an http(s) URL fetched within timeout.
func readURIList(ctx context.Context, src string, timeout time.Duration) ([]*url.URL, error) {
	var (
		data []byte
		err  error
	)
	switch {
	case strings.HasPrefix(src, "http://"), strings.HasPrefix(src, "https://"):
		data, err = fetchURIList(ctx, src, timeout)
	case strings.HasPrefix(src, "file:"):
		var u *url.URL
		if u, err = url.Parse(src); err == nil {
			path := u.Path
			if path == "" {
				path = u.Opaque
			}
			data, err = readFileLimited(path)
		}
	default:
		data, err = readFileLimited(src)
	}
	if err != nil {
		return nil, err
	}
	var out []*url.URL
	for _, s := range strings.FieldsFunc(string(data), func(r rune) bool {
		return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t'
	}) {
		u, err := parseBrokerURI(s)
		if err != nil {
			return out, err
		}
		out = append(out, u)
	}
	return out, nil
}

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxURIListSize))
}

func fetchURIList(ctx context.Context, src string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxURIListSize))
}
