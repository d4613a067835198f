"""Query languages the emulators accept: SOQL (Salesforce) and SuiteQL (NetSuite).

Both are parsed by a tokenizer and a recursive-descent parser into the small ASTs of
`sandbox.querylang.ast`; a syntax error is a `QuerySyntaxError` the emulators turn into the
vendor's error response. Field and table semantics belong to each emulator.
"""
