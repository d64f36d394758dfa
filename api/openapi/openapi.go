// Package openapi embeds the OpenAPI (Swagger 2.0) document generated from
// proto/ by protoc-gen-openapiv2; the server serves it at /openapi.json.
// This file is the only hand-written one under api/.
package openapi

import _ "embed"

// Document is the generated OpenAPI document.
//
//go:embed sportello.swagger.json
var Document []byte
