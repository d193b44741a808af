DROP TABLE account_challenges;
