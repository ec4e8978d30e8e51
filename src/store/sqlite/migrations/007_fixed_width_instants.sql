-- Stored instants in one fixed-width form, `YYYY-MM-DDTHH:MM:SS.sssZ` (24 characters). Until now
-- an instant on a whole second was stored without its fraction (`…:59Z`, 20 characters), so text
-- order was not time order: `…:59.5Z` sorted before `…:59Z`. Those are the only two widths ever
-- written (formatInstant dropped `.000` and nothing else), so the 20-character ones gain `.000`.
-- The year and month do not move: the update trigger takes each row's hire off its quarter and
-- puts it back (hire_counts unchanged; ~6 s per million rows, once). PostgreSQL stores TIMESTAMPTZ
-- and has nothing to rewrite: it has no 007.
UPDATE hired_employees SET datetime = substr(datetime, 1, 19) || '.000Z' WHERE length(datetime) = 20;
