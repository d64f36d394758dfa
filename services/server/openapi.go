package server

import (
	"encoding/json"
	"fmt"
	"strings"
)

// mergeOpenAPI adds the paths and definitions of each fragment to the
// generated document. A fragment may not redefine what is already there.
func mergeOpenAPI(base []byte, fragments ...[]byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	for i, f := range fragments {
		var frag map[string]map[string]any
		if err := json.Unmarshal(f, &frag); err != nil {
			return nil, fmt.Errorf("openapi fragment %d: %w", i, err)
		}
		for _, section := range []string{"paths", "definitions"} {
			dst, _ := doc[section].(map[string]any)
			if dst == nil {
				dst = map[string]any{}
				doc[section] = dst
			}
			for k, v := range frag[section] {
				if _, dup := dst[k]; dup {
					return nil, fmt.Errorf("openapi fragment %d redefines %s %q", i, section, k)
				}
				dst[k] = v
			}
		}
	}
	defs, _ := doc["definitions"].(map[string]any)
	if missing := danglingRefs(doc, defs); len(missing) > 0 {
		return nil, fmt.Errorf("openapi: $ref to undefined definitions %v", missing)
	}
	doc["info"] = map[string]any{"title": "Sportello API", "version": "v1",
		"description": "Cases, contacts, directory and channel endpoints of Sportello. gRPC services are served on the same port."}
	return json.MarshalIndent(doc, "", "  ")
}

// danglingRefs lists "#/definitions/X" references with no definition X.
func danglingRefs(v any, defs map[string]any) []string {
	var missing []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if ref, ok := e.(string); ok && k == "$ref" {
				name := strings.TrimPrefix(ref, "#/definitions/")
				if _, ok := defs[name]; !ok {
					missing = append(missing, name)
				}
				continue
			}
			missing = append(missing, danglingRefs(e, defs)...)
		}
	case []any:
		for _, e := range x {
			missing = append(missing, danglingRefs(e, defs)...)
		}
	}
	return missing
}
