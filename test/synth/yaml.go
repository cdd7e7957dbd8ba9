package synth

import (
	"bufio"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// WriteYAML writes every object as one multi-document YAML stream, as kubectl would apply it.
func (c *Cluster) WriteYAML(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	for i, obj := range c.Objects {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("write object %d as YAML: %w", i, err)
		}
		if i > 0 {
			if _, err := bw.WriteString("---\n"); err != nil {
				return err
			}
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}
