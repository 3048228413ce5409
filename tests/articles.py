"""Articles the extraction tests share (written for the tests; no real outlet's text)."""

ARTICLE = (
    "Minister resigns over budget\n\n"
    "LONDON, Nov 26 (Reuters) - British Finance Minister Jane Doe said on Monday that she would resign.\n\n"
    '"I have done what I came to do," Doe told reporters. "It is time to go."\n'
)
