-- Each certificate's history (its periods and standing changes) as the status
-- rule reads it, kept beside the rows it is made of, so that a status check is
-- one indexed query. Written in the same transaction as every change.
ALTER TABLE certificates ADD COLUMN history TEXT NOT NULL DEFAULT '';
