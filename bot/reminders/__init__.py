"""The régua: proactive reminder cadences over WhatsApp and SMS."""
