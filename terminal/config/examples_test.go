package config

import (
	"path/filepath"
	"testing"
)

// The commented examples in testdata/config are what technicians copy:
// they must stay valid.
func TestExamplesParse(t *testing.T) {
	files, err := filepath.Glob("../../testdata/config/*.toml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if c.Device.ID == "" || c.Device.Store == "" {
				t.Fatalf("device = %+v", c.Device)
			}
		})
	}
}
