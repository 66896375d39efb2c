"""The blog's assistant: answers questions about posts through the blog's tools, as the asking user."""

from fastmango.ai import agent

assistant = agent(
    "assistant",
    instructions=(
        "You answer questions about the blog's posts. Use the tools to look posts up; "
        "never invent posts. If a tool is refused, say the user may not see that."
    ),
    tools=["search_posts", "post_*", "drafts"],
    model="default",
)
