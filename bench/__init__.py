"""Benchmark: this bot against stock ``rasa init`` over the REST channel (``make bench``).

conversations.py  what is sent (turns from each bot's own test stories; the long conversation)
loadgen.py        asyncio + aiohttp load generator: concurrent conversations, one long conversation
stock.py          builds (and caches, per Rasa version) the stock ``rasa init --no-prompt`` bot
procs.py          servers in their own process groups; resident memory from /proc
runner.py         starts both bots, measures them side by side, writes reports/bench.json + PNG
report.py         ratios, the table, the latency curves
"""
