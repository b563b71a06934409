"""``stackdef diff``: what changes between two versions of a stack, what it costs, whether it fits.

Pure, like plan: two built stacks in, a :class:`StackDiff` out; views render it as text, JSON
and Markdown for a pull-request comment. ``pulumi_events`` renders Pulumi's own preview (an
engine event stream) into the same comment.
"""
