"""Claims from raw news text: datelines, attributions (cue, source, content), speakers and dates.

Knows neither HTTP nor SQL: `extract.document.extract` returns a source document in the shape
`POST /v1/import` takes, plus the attribution spans behind each claim (docs/extract.md).
"""
