// Package assets holds the files embedded in the binary. The folder is
// named embed/; the package is named assets so it does not clash with the
// standard library's embed.
package assets

import "embed"

// OpenAPI is the project's own OpenAPI 3.1 document, in YAML: the routes the
// server serves, and the schemas request bodies and parameters are checked
// against. It is written by hand; the server reads OpenAPIJSON.
//
//go:embed openapi.yaml
var OpenAPI []byte

// OpenAPIParts holds the rest of that document, one YAML file per group of
// operations (openapi/*.yaml), each with its own paths and component
// schemas. They are merged into OpenAPI when it is loaded; a name defined
// twice is an error, so the parts cannot silently override one another.
//
//go:embed openapi/*.yaml
var OpenAPIParts embed.FS

// OpenAPIJSON is OpenAPI with its parts merged in, as JSON: the document
// the server serves and compiles. It is generated from the YAML (make
// openapi), and a test fails when it is not current.
//
//go:embed openapi.json
var OpenAPIJSON []byte

// Console is the web console served at /: HTML, CSS and JavaScript
// modules written as served, with no build step and no dependencies (see
// DECISIONS.md, "Why has the console no build step?").
//
//go:embed console
var Console embed.FS
