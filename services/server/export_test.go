package server

// MergeOpenAPIForTest exposes mergeOpenAPI to the external tests.
var MergeOpenAPIForTest = mergeOpenAPI
