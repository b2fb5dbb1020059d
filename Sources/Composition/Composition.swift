// The composition language: model, XSD validation, semantic checks. See docs/compositions.md.
