// Package assets holds the files embedded in the binary. The folder is
// named embed/; the package is named assets so it does not clash with the
// standard library's embed.
package assets

import _ "embed"

// OpenAPI is the project's own OpenAPI 3.1 document, in YAML: the routes the
// server serves, and the schemas request bodies and parameters are checked
// against.
//
//go:embed openapi.yaml
var OpenAPI []byte
