DROP TABLE schedule_holidays;
