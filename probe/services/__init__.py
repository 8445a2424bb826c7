"""What probe asks a device through the check context: the web crawl, logins, UPnP, the update
survey, default credentials."""
