DROP TABLE deliveries;
DROP TABLE watched;
DROP TABLE subscription_secrets;
DROP TABLE subscriptions;
DROP TABLE api_clients;
