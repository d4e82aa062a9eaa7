"""Pairwise evaluation: candidates answer the same prompts and judges compare each answer with the
baseline's, blind, in both orders.

    generation.py   the generation stage (every candidate, prompt, grid cell, seed and sample; cached)
    judging.py      the judging stage (comparisons, both orders, each judgment stored as it arrives)
    judges.py       the judge kinds (@judge_kind): local models, OpenAI-compatible endpoints, scripted
                    functions, humans; how each is frozen into a run, and its backend
    verdicts.py     the judge prompt and the strict reading of a judge's reply
    analysis.py     from stored generations and judgments to win rates, agreement and reliability
    human.py        blind judging by people, stored like a judge's judgments
    human_stats.py  the humans' win rates and how far each LLM judge agrees with them
"""
