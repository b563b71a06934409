"""``stackdef diff``: what changes between two versions of a stack, what it costs, whether it fits.

Pure, like plan: two built stacks become snapshots (:mod:`.snapshot`), compared into the diff
document (:mod:`.core`, its JSON is the contract); :mod:`.views` renders it as text and as
Markdown for a pull-request comment, :mod:`.graph` as a Mermaid flowchart, and
:mod:`.pulumi_events` reads Pulumi's own preview into the same comment. :mod:`.sources` is the
only part that reads files or runs git.
"""
