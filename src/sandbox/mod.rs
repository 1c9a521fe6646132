//! Local stand-in for the Entra token endpoint, Microsoft Graph and the Defender API.
