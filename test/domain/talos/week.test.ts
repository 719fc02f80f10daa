import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/core/errors.js';
import { candidateDates, expandTemplate, fridayOfWeek } from '../../../src/domain/talos/week.js';

describe('fridayOfWeek', () => {
  it.each([
    ['2021-06-18T12:00:00Z', 'Europe/Brussels', '2021-06-18'], // Friday → itself
    ['2021-06-19T01:00:00Z', 'Europe/Brussels', '2021-06-18'], // Saturday 03:00 Brussels (the seed's schedule)
    ['2021-06-20T12:00:00Z', 'Europe/Brussels', '2021-06-18'], // Sunday
    ['2021-06-21T12:00:00Z', 'Europe/Brussels', '2021-06-18'], // Monday → last Friday
    ['2021-06-24T12:00:00Z', 'Europe/Brussels', '2021-06-18'], // Thursday → last Friday
    ['2021-06-26T02:00:00Z', 'America/New_York', '2021-06-25'], // still Friday evening in New York
    ['2021-06-26T02:00:00Z', 'Europe/Brussels', '2021-06-25'], // already Saturday in Brussels
    ['2021-06-25T02:00:00Z', 'America/New_York', '2021-06-18'], // Thursday night in New York, Friday in UTC
    ['2021-01-01T12:00:00Z', 'UTC', '2021-01-01'],
    ['2021-01-03T12:00:00Z', 'UTC', '2021-01-01'],
    ['2021-01-04T12:00:00Z', 'UTC', '2021-01-01'], // across the year boundary
    ['2020-12-31T12:00:00Z', 'UTC', '2020-12-25'],
  ])('%s in %s → %s', (now, tz, expected) => {
    expect(fridayOfWeek(new Date(now), tz)).toBe(expected);
  });

  it('refuses an unknown time zone with a sentence naming the setting', () => {
    expect(() => fridayOfWeek(new Date(), 'Mars/Olympus')).toThrow(/HUNT_TIMEZONE/);
  });
});

describe('candidateDates', () => {
  it('Friday, then Thursday, then Saturday, across month ends', () => {
    expect(candidateDates('2021-06-18')).toEqual(['2021-06-18', '2021-06-17', '2021-06-19']);
    expect(candidateDates('2021-07-30')).toEqual(['2021-07-30', '2021-07-29', '2021-07-31']);
    expect(candidateDates('2020-05-01')).toEqual(['2020-05-01', '2020-04-30', '2020-05-02']);
  });

  it('refuses a non-date', () => {
    expect(() => candidateDates('2021-02-30')).toThrow(ValidationError);
  });
});

describe('expandTemplate', () => {
  it('fills the GitHub layout', () => {
    expect(expandTemplate('https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/{yyyy}/{mmdd}.json', { date: '2021-06-17' })).toBe(
      'https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/2021/0617.json',
    );
  });

  it('fills the S3 layout with the url id', () => {
    expect(expandTemplate('https://s3.amazonaws.com/x/095/{urlId}/original/{yyyymmdd}-tru.json.txt', { date: '2021-07-23', urlId: 597 })).toBe(
      'https://s3.amazonaws.com/x/095/597/original/20210723-tru.json.txt',
    );
  });

  it('fills {yyyy}/{mm}/{dd} and leaves other braces alone', () => {
    expect(expandTemplate('/{yyyy}/{mm}/{dd}/{other}', { date: '2020-11-06' })).toBe('/2020/11/06/{other}');
  });

  it('says what is missing when {urlId} has no value', () => {
    expect(() => expandTemplate('/{urlId}/{yyyymmdd}', { date: '2021-07-23' })).toThrow(/needs \{urlId\}/);
  });
});
